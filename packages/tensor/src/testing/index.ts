/** Test helpers shared by the packages: the float64 finite-difference gradient checker. */
export { gradcheck, assertGradcheck, type GradcheckOptions, type GradcheckMismatch } from './gradcheck.js';
