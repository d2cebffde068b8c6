/** `gsae backends`: every backend's status on this machine and which one the engine picks. */
import type { CommandModule } from 'yargs';
import { backend, backendStatus } from '../../engine/index.js';

export const backendsCommand: CommandModule<object, { json: boolean }> = {
  command: 'backends',
  describe: 'List compute backends, whether each can start here (or why not), and which is used',
  builder: (y) => y.option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
  handler: (args) => {
    const status = backendStatus();
    const chosen = backend().name;
    if (args.json) {
      console.log(JSON.stringify({ chosen, backends: status }));
      return;
    }
    for (const s of status) {
      const mark = s.name === chosen ? '*' : ' ';
      console.log(`${mark} ${s.name.padEnd(14)} ${s.available ? 'available' : `unavailable: ${s.reason}`}`);
    }
    console.log(`\nthe engine uses: ${chosen} (* above)`);
  },
};
