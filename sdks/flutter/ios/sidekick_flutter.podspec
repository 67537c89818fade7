# The iOS side of the sidekick_flutter FFI plugin: the C core compiled statically into the app
# (evalcore/src through Classes/, never copied); Dart finds its symbols with
# DynamicLibrary.process().
Pod::Spec.new do |s|
  s.name             = "sidekick_flutter"
  s.version          = "0.1.0"
  s.summary          = "Sidekick feature flags: the C evaluation core for Flutter on iOS."
  s.homepage         = "https://github.com/sidekick-flags/sidekick"
  s.license          = { :type => "Apache-2.0", :file => "../LICENSE" }
  s.author           = "Sidekick contributors"
  s.source           = { :path => "." }
  s.source_files     = "Classes/**/*.c"
  s.dependency "Flutter"
  s.platform = :ios, "12.0"
  s.pod_target_xcconfig = {
    "DEFINES_MODULE" => "YES",
    "GCC_C_LANGUAGE_STANDARD" => "c11",
    "HEADER_SEARCH_PATHS" => "\"$(PODS_TARGET_SRCROOT)/../../../evalcore/include\"",
    # Static code is stripped unless something references it; Dart looks symbols up at run time.
    "DEAD_CODE_STRIPPING" => "NO",
    "EXCLUDED_ARCHS[sdk=iphonesimulator*]" => "i386"
  }
  s.user_target_xcconfig = { "OTHER_LDFLAGS" => "-all_load" }
end
