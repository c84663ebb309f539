/**
 * Runs shutdown steps in the reverse of the order they were added (what started last stops
 * first), each even when an earlier one failed; a failure goes to `onError`. The list is not
 * changed, so a second call runs the steps in the same order again.
 */
export async function closeInReverse(
  steps: readonly (() => Promise<void>)[],
  onError: (error: unknown) => void,
): Promise<void> {
  for (const step of [...steps].reverse()) {
    try {
      await step();
    } catch (error) {
      onError(error);
    }
  }
}
