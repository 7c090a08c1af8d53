export { AppError, errorBody, errorType, isAppError, toAppError } from './error-catalogue';
export type { ErrorCode, FieldError } from './error-catalogue';
export { newRequestId, normaliseRequestId } from './request-context';
export { nativeRequire } from './native-require';
