// One screen of the orchestrator-ui components per route of this host (browser only: see pages/_app.js).
// The ones for a process, a start form or a subscription read their id or name from the route.
import { useRouter } from 'next/router';

import {
  WfoProcessDetailPage,
  WfoStartProcessPage,
  WfoSubscriptionDetailPage,
} from '@orchestrator-ui/orchestrator-ui-components';

export {
  WfoProductBlocksPage as ProductBlocks,
  WfoProductsPage as Products,
  WfoResourceTypesPage as ResourceTypes,
  WfoScheduledTasksPage as ScheduledTasks,
  WfoScheduleTaskFormPage as ScheduleTaskForm,
  WfoSettingsPage as Settings,
  WfoStartPage as Dashboard,
  WfoSubscriptionsListPage as Subscriptions,
  WfoTasksListPage as Tasks,
  WfoTasksPage as TaskDefinitions,
  WfoWorkflowsListPage as Workflows,
  WfoWorkflowsPage as WorkflowDefinitions,
} from '@orchestrator-ui/orchestrator-ui-components';

function useRouteParameter(name) {
  const value = useRouter().query[name];
  return typeof value === 'string' ? value : undefined;
}

export function Process() {
  const processId = useRouteParameter('processId');
  return processId ? <WfoProcessDetailPage processId={processId} /> : null;
}

export function StartWorkflow() {
  const workflowName = useRouteParameter('workflowName');
  return workflowName ? <WfoStartProcessPage processName={workflowName} isTask={false} /> : null;
}

export function StartTask() {
  const taskName = useRouteParameter('taskName');
  return taskName ? <WfoStartProcessPage processName={taskName} isTask /> : null;
}

export function Subscription() {
  return useRouteParameter('subscriptionId') ? <WfoSubscriptionDetailPage /> : null;
}
