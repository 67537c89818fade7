/* CocoaPods builds only files inside the pod: this compiles evalcore/src/flag.c in place. */
#include "../../../../evalcore/src/flag.c"
