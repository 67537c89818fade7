/* CocoaPods builds only files inside the pod: this compiles evalcore/src/names.c in place. */
#include "../../../../evalcore/src/names.c"
