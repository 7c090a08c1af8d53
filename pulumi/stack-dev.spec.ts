import { describeStack } from './testing/stack-assertions';

// Dev: the lean profile, 2 AZs, no NAT gateway, one Spot task in a public subnet.
describeStack('dev', { azs: 2, natGateways: 0 });
