#!/usr/bin/env bash
# Fetches Debian packages of another suite (sid, trixie) and unpacks each into
# a cache, without installing anything system-wide:
#
#   scripts/fetch-debian.sh SUITE PACKAGE...
#
# prints one line per package: NAME VERSION DIRECTORY (the dpkg -x tree).
# The suite's sources list names the mirror apt is already configured with;
# apt's own lists and archives stay untouched (a private state directory).
set -euo pipefail
suite=${1:?usage: fetch-debian.sh SUITE PACKAGE...}
shift
cache=${SIDEWATCH_CACHE:-$HOME/.cache/sidewatch}/debian/$suite
mkdir -p "$cache/lists/partial" "$cache/archives/partial" "$cache/debs" "$cache/pkgs"

mirror=$(grep -hm1 '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | awk '{print $2}' || true)
[ -n "$mirror" ] || mirror=$(grep -hm1 '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' || true)
[ -n "$mirror" ] || { echo "no Debian mirror configured in apt sources" >&2; exit 1; }
printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$mirror" "$suite" >"$cache/sources.list"

apt_opts=(
  -o "Dir::Etc::SourceList=$cache/sources.list"
  -o "Dir::Etc::SourceParts=/nonexistent"
  -o "Dir::State::Lists=$cache/lists"
  -o "Dir::Cache::Archives=$cache/archives"
  -o "Dir::Cache::pkgcache=$cache/pkgcache.bin"
  -o "Dir::Cache::srcpkgcache=$cache/srcpkgcache.bin"
  -o "APT::Get::List-Cleanup=0"
  -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=root"
)
# The suite's index, refreshed once a day.
stamp="$cache/lists/.updated"
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
  apt-get "${apt_opts[@]}" update -qq >/dev/null
  touch "$stamp"
fi

for pkg in "$@"; do
  version=$(apt-cache "${apt_opts[@]}" policy "$pkg" | awk '/Candidate:/ {print $2}')
  [ -n "$version" ] && [ "$version" != "(none)" ] || { echo "$pkg: not in $suite" >&2; exit 1; }
  dir="$cache/pkgs/$pkg-$version"
  if [ ! -e "$dir/.done" ]; then
    rm -rf "$dir"
    (cd "$cache/debs" && apt-get "${apt_opts[@]}" download -qq "$pkg=$version" >/dev/null)
    deb=$(ls "$cache/debs/${pkg}_"*"${version#*:}"*.deb 2>/dev/null | head -1)
    [ -n "$deb" ] || { echo "$pkg: download failed" >&2; exit 1; }
    dpkg -x "$deb" "$dir"
    touch "$dir/.done"
  fi
  echo "$pkg $version $dir"
done
