/** `gsae backends`: every backend's status on this machine, every gpu.js mode's, and which one the engine picks. */
import type { CommandModule } from 'yargs';
import { backend, backendStatus } from '../../engine/index.js';
import { describeModes, probeGpujs } from '../../engine/backends/gpujs/index.js';

export const backendsCommand: CommandModule<object, { json: boolean }> = {
  command: 'backends',
  describe: 'List compute backends and gpu.js modes, whether each can start here (or why not), and which is used',
  builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
  handler: (args) => {
    const status = backendStatus();
    const chosen = backend().name;
    const gpujs = probeGpujs();
    if (args.json) {
      console.log(JSON.stringify({ chosen, backends: status, gpujs }));
      return;
    }
    for (const s of status) {
      const mark = s.name === chosen ? '*' : ' ';
      console.log(`${mark} ${s.name.padEnd(14)} ${s.available ? 'available' : `unavailable: ${s.reason}`}`);
    }
    console.log(`\nthe engine uses: ${chosen} (* above)`);
    console.log(`\ngpu.js modes (the 'gpujs' backend uses the one marked *; GSAE_GPUJS_MODE forces one):`);
    for (const line of describeModes(gpujs)) console.log(line);
    console.log(`  mode choice: ${gpujs.chosen ?? 'none'} — ${gpujs.why}`);
    console.log(
      gpujs.hardwareGpu
        ? `  a hardware GPU mode is usable: 'gpujs' ranks above the CPU backends`
        : `  no hardware GPU mode: 'gpujs' ranks below 'reference' and is used only when asked for (setBackend('gpujs'))`,
    );
  },
};
