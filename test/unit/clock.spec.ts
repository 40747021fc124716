import { describe, expect, it } from 'vitest';
import { ChronoForgeClock, TestClock } from '../../lib/index.js';

/** A machine whose clock reads `system` (ms), whatever the real time. */
class MachineClock extends ChronoForgeClock {
  system = 1_000_000;
  protected override systemNow(): number {
    return this.system;
  }
}

describe('ChronoForgeClock', () => {
  it("should follow the database's clock once calibrated, whatever this machine's clock says", async () => {
    const clock = new MachineClock();
    expect(clock.now()).toBe(1_000_000);
    // The database reads 60 s later than this machine; the round trip takes 10 ms.
    await clock.calibrate(async () => {
      clock.system += 10;
      return 1_060_005;
    });
    expect(clock.now()).toBe(1_060_010);
    clock.system += 5_000;
    expect(clock.now()).toBe(1_065_010);
    // Measured again after this machine's clock was stepped back an hour.
    clock.system -= 3_600_000;
    await clock.calibrate(async () => 1_065_010);
    expect(clock.now()).toBe(1_065_010);
  });

  it('should leave a TestClock where the test put it', async () => {
    const clock = new TestClock();
    clock.set(Date.UTC(2030, 0, 1), true);
    await clock.calibrate();
    expect(clock.now()).toBe(Date.UTC(2030, 0, 1));
  });
});
