// orchestrion's test host for SURF's orchestrator-ui components: see docs/ui.md ("SURF's orchestrator-ui").
const path = require('node:path');

// The two modules that import the components. They run in the browser only (next/dynamic without server
// rendering), so the server build gets empty modules instead: it compiles and traces none of the UI packages.
const browserOnly = ['lib/shell.js', 'lib/screens.js'].map((file) => path.join(__dirname, file));

/** @type {import('next').NextConfig} */
module.exports = {
  // The components ask the backend for translations/<locale>; the router's locale supplies it.
  i18n: { locales: ['en-GB', 'nl-NL'], defaultLocale: 'en-GB' },
  // The components are published as modern ESM that Next compiles like app code.
  transpilePackages: ['@orchestrator-ui/orchestrator-ui-components'],
  // Section roots the components link to, without a page of their own.
  async redirects() {
    return [
      { source: '/metadata', destination: '/metadata/products', permanent: false },
      { source: '/workflows/new', destination: '/workflows', permanent: false },
      { source: '/tasks/new', destination: '/tasks', permanent: false },
    ];
  },
  webpack(config, { isServer }) {
    if (isServer) for (const file of browserOnly) config.resolve.alias[file] = false;
    return config;
  },
  poweredByHeader: false,
  eslint: { ignoreDuringBuilds: true },
};
