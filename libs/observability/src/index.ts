export * from './metrics.service';
export * from './emf-publisher';
