/* CocoaPods builds only files inside the pod: this compiles evalcore/src/store.c in place. */
#include "../../../../evalcore/src/store.c"
