// Declarations of the CLI11 types that headers pass by pointer or reference, so that a header
// declaring option functions does not pull CLI11 (seconds of compile time) into every file
// that includes it. The definitions come with cli/app.hpp.
#pragma once

namespace CLI {
class App;
class Option;
}  // namespace CLI
