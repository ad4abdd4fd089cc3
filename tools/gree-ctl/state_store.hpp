// Where gree-ctl keeps each unit's last known remote code between runs: one small JSON file
// per port and address (m2m::gree::KnownState), under --state-dir, else
// $XDG_STATE_HOME/gree-ctl, else ~/.local/state/gree-ctl. Files are replaced atomically
// (temporary file, fsync, rename), so a crash never leaves half a code to re-send.
#pragma once

#include <optional>
#include <string>

#include "failure.hpp"
#include "gree/known_state.hpp"

namespace gree_ctl {

class StateStore {
 public:
  static std::string default_dir();  // $XDG_STATE_HOME/gree-ctl or $HOME/.local/state/gree-ctl
  // `port` as given with -d; it is made absolute, so "ac" and "./ac" are one port.
  StateStore(std::string dir, const std::string& port);

  const std::string& port() const { return port_; }
  std::string path_for(int address) const;
  // nullopt when nothing is recorded; a Failure when the file exists but cannot be used.
  Outcome<std::optional<m2m::gree::KnownState>> load(int address) const;
  // Records the state of the unit that sent `s` (address 0, which nothing can address, is
  // not recorded); the file is rewritten only when the code differs from the recorded one.
  Outcome<void> remember(const m2m::gree::Status& s, m2m::gree::Checksum ck) const;
  // The unit left this address (set-address): its old record must not be re-sent to
  // whichever unit takes the address next.
  void forget(int address) const;

 private:
  std::string dir_;
  std::string port_;
};

}  // namespace gree_ctl
