// SidekickModule.mm — installs the JSI host object into the app's runtime when JavaScript asks.
#import "SidekickModule.h"

#import <React/RCTBridge+Private.h>
#import <jsi/jsi.h>

#include <exception>

#include "SidekickJSI.h"

@implementation SidekickModule

@synthesize bridge = _bridge;

RCT_EXPORT_MODULE(Sidekick)

+ (BOOL)requiresMainQueueSetup {
  return NO;
}

// Synchronous, on the JavaScript thread: the only thread allowed to touch the runtime.
RCT_EXPORT_BLOCKING_SYNCHRONOUS_METHOD(install) {
  RCTCxxBridge *cxxBridge = (RCTCxxBridge *)self.bridge;
  auto *runtime = static_cast<facebook::jsi::Runtime *>(cxxBridge.runtime);
  if (runtime == nullptr) {
    return @NO;
  }
  try {
    installSidekickJSI(*runtime);
  } catch (const std::exception &error) {
    NSLog(@"Sidekick: %s", error.what());
    return @NO;
  }
  return @YES;
}

@end
