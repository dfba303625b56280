// GET /api/config: the components' configuration from this server's environment, read per request.
import { orchestratorConfig } from '../../lib/config';

export default function config(request, response) {
  response.setHeader('Cache-Control', 'no-store');
  response.status(200).json(orchestratorConfig());
}
