import { describeStack } from './testing/stack-assertions';

// Dev: 2 AZs, a single NAT gateway, all tasks on Fargate Spot.
describeStack('dev', { azs: 2, natGateways: 1 });
