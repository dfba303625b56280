// The components' OrchestratorConfig, built from this server's environment on every request (server side only),
// so one build serves any backend: change the variables and restart `next start`, no rebuild.
//
//   ORCHESTRATOR_API_BASE_URL   REST base including /api            default http://127.0.0.1:8080/api
//   ORCHESTRATOR_GRAPHQL_URL    GraphQL endpoint                     default <api base>/graphql
//   ORCHESTRATOR_WEBSOCKET_URL  live updates                         default <api base as ws:// or wss://>/ws/events
//   USE_WEB_SOCKETS             "false" turns live updates off       default true
//   ENVIRONMENT_NAME            the badge in the header              default Development
//
// Sign-in is always off: this host has no identity provider.

const enabled = (value, fallback) => (value === undefined || value === '' ? fallback : value.toLowerCase() === 'true');

function orchestratorConfig(env = process.env) {
  const api = (env.ORCHESTRATOR_API_BASE_URL || 'http://127.0.0.1:8080/api').replace(/\/+$/, '');
  return {
    environmentName: env.ENVIRONMENT_NAME || 'Development',
    orchestratorApiBaseUrl: api,
    graphqlEndpointCore: env.ORCHESTRATOR_GRAPHQL_URL || `${api}/graphql`,
    orchestratorWebsocketUrl: env.ORCHESTRATOR_WEBSOCKET_URL || `${api.replace(/^http/, 'ws')}/ws/events`,
    useWebSockets: enabled(env.USE_WEB_SOCKETS, true),
    authActive: false,
    useThemeToggle: false,
    showWorkflowInformationLink: false,
    workflowInformationLinkUrl: '',
    enableSupportMenuItem: false,
    supportMenuItemUrl: '',
    enableAoStackStatus: false,
    aoStackStatusUrl: '',
    startWorkflowFilters: undefined,
  };
}

module.exports = { orchestratorConfig };
