import dynamic from 'next/dynamic';

export default dynamic(() => import('../../lib/screens').then((screens) => screens.ScheduleTaskForm), { ssr: false });
