/** Waiting for the signal that asks a long-running process to drain and stop. */

/**
 * Resolves with the name of the first SIGTERM or SIGINT (or `"timeout"` after `timeoutMs`).
 * @example await untilShutdown(); await component.stop();
 */
export function untilShutdown(timeoutMs?: number): Promise<"SIGTERM" | "SIGINT" | "timeout"> {
  return new Promise((resolve) => {
    const done = (why: "SIGTERM" | "SIGINT" | "timeout") => {
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      clearTimeout(timer);
      resolve(why);
    };
    const onTerm = () => done("SIGTERM");
    const onInt = () => done("SIGINT");
    process.once("SIGTERM", onTerm);
    process.once("SIGINT", onInt);
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => done("timeout"), timeoutMs);
    timer?.unref();
  });
}
