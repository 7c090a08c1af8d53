import { describeStack } from './testing/stack-assertions';

// Prod: 3 AZs, one NAT gateway per AZ, on-demand base plus Spot by weight.
describeStack('prod', { azs: 3, natGateways: 3 });
