export * from './chat.types';
export * from './catalogue.types';
