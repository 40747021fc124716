/** Step log of a cancelled run's `@OnCancel()` cleanup. */
export const ON_CANCEL_STEP = '$oncancel$';
