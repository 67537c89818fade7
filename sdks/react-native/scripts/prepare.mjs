// prepare.mjs — copies the stream code shared with the Node and browser packages
// (sdks/shared-ts/src) into src/vendor/, which Metro compiles with the rest of src/.
//
// npm runs `prepare` when it installs this folder from a checkout and before `npm pack`, so the
// published src/ holds the copy; the copy itself is not committed.
import { vendorSharedTs } from '../../shared-ts/vendor.mjs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

vendorSharedTs(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'));
