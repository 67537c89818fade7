// The one React Native export this package uses, declared so that the package type-checks without
// react-native installed (it is the app's dependency, not ours). An app's own type-check resolves
// the real module instead.
declare module 'react-native' {
  export const NativeModules: {
    readonly Sidekick?: { install(): boolean };
  };
}
