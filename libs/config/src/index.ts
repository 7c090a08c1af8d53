export { ConfigError, loadConfig } from './app-config';
export type { AppConfig } from './app-config';
export { APP_CONFIG, ConfigModule } from './config.module';
