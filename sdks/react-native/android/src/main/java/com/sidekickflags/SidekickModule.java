package com.sidekickflags;

import androidx.annotation.NonNull;
import com.facebook.react.bridge.ReactApplicationContext;
import com.facebook.react.bridge.ReactContextBaseJavaModule;
import com.facebook.react.bridge.ReactMethod;
import com.facebook.react.module.annotations.ReactModule;

/** Installs the Sidekick JSI host object into the app's JavaScript runtime. */
@ReactModule(name = SidekickModule.NAME)
public class SidekickModule extends ReactContextBaseJavaModule {
  public static final String NAME = "Sidekick";

  static {
    System.loadLibrary("sidekick-react-native");
  }

  public SidekickModule(ReactApplicationContext context) {
    super(context);
  }

  @Override
  @NonNull
  public String getName() {
    return NAME;
  }

  /**
   * Synchronous so that JavaScript can evaluate flags on the very next line; it runs on the
   * JavaScript thread, the only thread allowed to touch the runtime.
   */
  @ReactMethod(isBlockingSynchronousMethod = true)
  public boolean install() {
    long runtime = getReactApplicationContext().getJavaScriptContextHolder().get();
    nativeInstall(runtime);
    return true;
  }

  private static native void nativeInstall(long runtimeAddress);
}
