// cpp-adapter.cpp — the JNI entry point through which SidekickModule.java installs the JSI object.

#include <jni.h>

#include <exception>

#include "SidekickJSI.h"

// Called on the JavaScript thread with the address of the app's jsi::Runtime (from
// ReactContext.getJavaScriptContextHolder()).
extern "C" JNIEXPORT void JNICALL
Java_com_sidekickflags_SidekickModule_nativeInstall(JNIEnv *env, jclass, jlong runtimeAddress) {
  if (runtimeAddress == 0) {
    env->ThrowNew(env->FindClass("java/lang/IllegalStateException"),
                  "Sidekick: the JavaScript runtime is not ready");
    return;
  }
  try {
    installSidekickJSI(*reinterpret_cast<facebook::jsi::Runtime *>(runtimeAddress));
  } catch (const std::exception &error) {
    // A C++ exception must not cross into the JVM: it becomes a Java exception instead.
    env->ThrowNew(env->FindClass("java/lang/IllegalStateException"), error.what());
  }
}
