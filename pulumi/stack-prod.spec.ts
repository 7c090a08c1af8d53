import { describeStack } from './testing/stack-assertions';

// Prod: 2 AZs, one NAT gateway per AZ, tasks in private subnets, on-demand base plus Spot.
describeStack('prod', { azs: 2, natGateways: 2 });
