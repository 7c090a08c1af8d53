import { describePolicy } from './testing/policy-cases';

// The same mutations against the prod stack (private tasks, cache, /admin allow-list).
describePolicy('prod');
