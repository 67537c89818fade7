// SidekickModule.h — the iOS native module that installs the Sidekick JSI host object.
#import <React/RCTBridgeModule.h>

@interface SidekickModule : NSObject <RCTBridgeModule>
@end
