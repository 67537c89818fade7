/* CocoaPods builds only files inside the pod: this compiles evalcore/src/semver.c in place. */
#include "../../../../evalcore/src/semver.c"
