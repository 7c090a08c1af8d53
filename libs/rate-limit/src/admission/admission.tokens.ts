/** the RequestClaims store (Redis with REDIS_URL, else in-process) */
export const REQUEST_CLAIMS = Symbol('REQUEST_CLAIMS');
/** the LimitsVersion counter (Redis with REDIS_URL, else in-process) */
export const LIMITS_VERSION = Symbol('LIMITS_VERSION');
