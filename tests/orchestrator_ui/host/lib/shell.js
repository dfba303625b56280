// The shell every page shares: the orchestrator-ui components' providers and page template. Browser only
// (pages/_app.js loads it without server rendering); it draws the page once /api/config has answered.
import { useEffect, useState } from 'react';

import { EuiProvider } from '@elastic/eui';
import { loader } from '@monaco-editor/react';
import { SessionProvider } from 'next-auth/react';
import { IntlProvider } from 'next-intl';
import { NextAdapter } from 'next-query-params';
import Head from 'next/head';
import { useRouter } from 'next/router';
import { QueryParamProvider } from 'use-query-params';

import {
  ConfirmationDialogContextWrapper,
  OrchestratorConfigProvider,
  StoreProvider,
  WfoAuth,
  WfoErrorBoundary,
  WfoLogoSpinner,
  WfoPageTemplate,
  WfoToastsList,
  useGetTranslationMessages,
  wfoThemeModifications,
} from '@orchestrator-ui/orchestrator-ui-components';

// The JSON and code views (Monaco) load from this server (public/monaco, copied by lib/copy-monaco.js), not a CDN.
loader.config({ paths: { vs: '/monaco/vs' } });

let configAnswer; // one request per page load

function useOrchestratorConfig() {
  const [config, setConfig] = useState(null);
  const [failure, setFailure] = useState(null);
  useEffect(() => {
    configAnswer ??= fetch('/api/config').then((answer) => {
      if (!answer.ok) throw new Error(`GET /api/config answered ${answer.status}`);
      return answer.json();
    });
    configAnswer.then(setConfig, (error) => {
      configAnswer = undefined;
      setFailure(error);
    });
  }, []);
  return { config, failure };
}

// Field labels of forms come from the backend (GET translations/<locale>); a label it does not know is normal.
const quietAboutMissingLabels = (error) => {
  if (error?.code !== 'MISSING_MESSAGE' && error?.code !== 'INSUFFICIENT_PATH') console.error(error);
};

function Translations({ children }) {
  const { locale, defaultLocale } = useRouter();
  const messages = useGetTranslationMessages(locale);
  return (
    <IntlProvider locale={locale || defaultLocale} messages={messages} onError={quietAboutMissingLabels}>
      {children}
    </IntlProvider>
  );
}

const logo = () => <strong style={{ fontSize: 18, whiteSpace: 'nowrap' }}>orchestrion</strong>;

export default function Shell({ children }) {
  const { config, failure } = useOrchestratorConfig();
  const [colorMode, setColorMode] = useState('LIGHT');

  if (failure) return <p role="alert">The UI host has no configuration: {String(failure.message)}</p>;
  if (!config) return <WfoLogoSpinner />;

  return (
    <WfoErrorBoundary>
      <OrchestratorConfigProvider initialOrchestratorConfig={config}>
        <StoreProvider initialOrchestratorConfig={config}>
          {/* Sign-in is off: the session is always empty (see pages/api/auth/session.js). */}
          <SessionProvider session={null}>
            <WfoAuth>
              <EuiProvider colorMode={colorMode} modify={wfoThemeModifications}>
                <Translations>
                  <QueryParamProvider adapter={NextAdapter} options={{ enableBatching: true }}>
                    <Head>
                      <title>orchestrator-ui on orchestrion</title>
                    </Head>
                    <ConfirmationDialogContextWrapper>
                      <WfoPageTemplate getAppLogo={logo} colorMode={colorMode} setColorMode={setColorMode}>
                        {children}
                      </WfoPageTemplate>
                      <WfoToastsList />
                    </ConfirmationDialogContextWrapper>
                  </QueryParamProvider>
                </Translations>
              </EuiProvider>
            </WfoAuth>
          </SessionProvider>
        </StoreProvider>
      </OrchestratorConfigProvider>
    </WfoErrorBoundary>
  );
}
