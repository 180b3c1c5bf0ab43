// How a worker lets queued messages in between two steps of a long computation.

/**
 * Lets queued messages (a cancel, a newer run, an analyze) in between two steps of the
 * work (two tensors, two epochs).
 * A MessageChannel round trip rather than setTimeout(0), which browsers clamp to 4 ms
 * once timers nest: that alone would cost 4 s on a model of 1000 tensors.
 */
export function messageYield(): () => Promise<void> {
  const channel = new MessageChannel();
  const waiting: (() => void)[] = [];
  channel.port1.onmessage = () => waiting.shift()?.();
  return () =>
    new Promise((resolve) => {
      waiting.push(resolve);
      channel.port2.postMessage(null);
    });
}
