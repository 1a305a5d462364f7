// The version vtpm-verify reports (--version, EAR verifier-id, saved bundles).
export const VERSION = '0.1.0';
