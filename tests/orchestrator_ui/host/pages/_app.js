// Every page inside the components' shell. The components need a browser and the configuration this server
// hands out per request (pages/api/config.js), so neither they nor the pages are rendered on the server.
import dynamic from 'next/dynamic';

const Shell = dynamic(() => import('../lib/shell'), { ssr: false });

export default function App({ Component, pageProps }) {
  return (
    <Shell>
      <Component {...pageProps} />
    </Shell>
  );
}
