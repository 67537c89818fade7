/* CocoaPods builds only files inside the pod: this compiles evalcore/src/number.c in place. */
#include "../../../../evalcore/src/number.c"
