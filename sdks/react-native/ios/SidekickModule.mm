// SidekickModule.mm — installs the JSI host object into the app's runtime.
//
// Two ways in, whichever the app's React Native setup offers first: the New Architecture calls
// installJSIBindingsWithRuntime:callInvoker: when the module is created (JavaScript reading
// NativeModules.Sidekick creates it); otherwise JavaScript calls the synchronous install(), which
// takes the runtime from the bridge.
#import "SidekickModule.h"

#import <React/RCTBridge+Private.h>
#import <ReactCommon/RCTTurboModuleWithJSIBindings.h>
#import <jsi/jsi.h>

#include <exception>

#include "SidekickJSI.h"

@interface SidekickModule () <RCTTurboModuleWithJSIBindings>
@end

static BOOL SidekickInstall(facebook::jsi::Runtime &runtime) {
  try {
    installSidekickJSI(runtime);
    return YES;
  } catch (const std::exception &error) {
    NSLog(@"Sidekick: %s", error.what());
    return NO;
  }
}

@implementation SidekickModule

@synthesize bridge = _bridge;

RCT_EXPORT_MODULE(Sidekick)

+ (BOOL)requiresMainQueueSetup {
  return NO;
}

- (void)installJSIBindingsWithRuntime:(facebook::jsi::Runtime &)runtime
                          callInvoker:
                              (const std::shared_ptr<facebook::react::CallInvoker> &)callInvoker {
  SidekickInstall(runtime);
}

// Synchronous, on the JavaScript thread: the only thread allowed to touch the runtime.
RCT_EXPORT_BLOCKING_SYNCHRONOUS_METHOD(install) {
  RCTCxxBridge *cxxBridge = (RCTCxxBridge *)self.bridge;
  auto *runtime = static_cast<facebook::jsi::Runtime *>(cxxBridge.runtime);
  if (runtime == nullptr) {
    return @NO;
  }
  return SidekickInstall(*runtime) ? @YES : @NO;
}

@end
