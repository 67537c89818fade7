# The iOS side of @sidekick-flags/react-native: the JSI host object and the C core, compiled
# statically into the app (evalcore/src through ios/core/, never copied).
require "json"

package = JSON.parse(File.read(File.join(__dir__, "package.json")))

Pod::Spec.new do |s|
  s.name         = "sidekick-react-native"
  s.version      = package["version"]
  s.summary      = package["description"]
  s.homepage     = "https://github.com/sidekick-flags/sidekick"
  s.license      = { :type => package["license"], :file => "LICENSE" }
  s.authors      = "Sidekick contributors"
  s.platforms    = { :ios => "13.4" }
  s.source       = { :git => "https://github.com/sidekick-flags/sidekick.git", :tag => "v#{s.version}" }

  s.source_files = "cpp/**/*.{h,cpp}", "ios/**/*.{h,mm,c}"
  s.static_framework = true
  s.pod_target_xcconfig = {
    "CLANG_CXX_LANGUAGE_STANDARD" => "c++17",
    "GCC_C_LANGUAGE_STANDARD" => "c11",
    # sidekick.h and the core's private headers, where ios/core/*.c include them from.
    "HEADER_SEARCH_PATHS" => "\"$(PODS_TARGET_SRCROOT)/../../evalcore/include\" \"$(PODS_TARGET_SRCROOT)/cpp\""
  }

  # React Native's install_modules_dependencies adds React-Core, ReactCommon (RCTTurboModuleWithJSIBindings) and JSI
  # as the app's architecture needs them; older setups get the two pods directly.
  if respond_to?(:install_modules_dependencies, true)
    install_modules_dependencies(s)
  else
    s.dependency "React-Core"
    s.dependency "React-jsi"
  end
end
