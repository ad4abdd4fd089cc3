// A fresh folder under /tmp for one unit test, removed with all it holds when the test ends.
#pragma once

#include <stdlib.h>  // mkdtemp

#include <filesystem>
#include <string>

namespace m2m_test {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/m2m-unit-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const char* name) const { return (path / name).string(); }
  std::string db() const { return file("reg.db"); }
};

}  // namespace m2m_test
