import dynamic from 'next/dynamic';

export default dynamic(() => import('../../lib/screens').then((screens) => screens.Workflows), { ssr: false });
