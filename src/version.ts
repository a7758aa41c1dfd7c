import { PACKAGE_VERSION } from './package-root.js';

/** The package version, as its package.json says. */
export const VERSION: string = PACKAGE_VERSION;
