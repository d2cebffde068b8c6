// Entry of the CLI bundle the robustness tests run as a child process (see cli_process.ts):
// bin/gsae.js without its dependence on a built dist/.
import { main } from '../../cli/main.js';

await main(process.argv.slice(2));
