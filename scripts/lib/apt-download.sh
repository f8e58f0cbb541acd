# Sourced by scripts that need a package from a newer Debian release than the
# machine runs (nats-server, docker-compose). No mirror host is written here.
#
# apt_download SUITE PACKAGE WORKDIR
#   Asks apt for PACKAGE from SUITE on the mirror this machine is already
#   configured to use, keeps apt's lists and archives in WORKDIR (nothing is
#   installed system-wide) and prints the downloaded .deb's path.
apt_download() {
  local suite="$1" package="$2" work="$3"
  command -v apt-get >/dev/null || { echo "apt-get not found: install $package yourself" >&2; return 1; }

  # The machine's own mirror: first deb822 URIs line, else the first deb line.
  local uri="" f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri="$(awk '/^URIs:/ {print $2; exit}' "$f")"
    case "$uri" in *security*) uri="";; esac
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri="$(awk '$1=="deb" && $0 !~ /security/ {for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)"
  fi
  [ -n "$uri" ] || { echo "no apt mirror configured on this machine" >&2; return 1; }

  mkdir -p "$work/lists/partial" "$work/archives/partial"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg signed=""
  [ -f "$keyring" ] && signed="signed-by=$keyring"
  echo "deb [${signed}] $uri $suite main" > "$work/sources.list"
  local apt_opts=(
    -o "APT::Sandbox::User=root"
    -o "Dir::Etc::SourceList=$work/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::Cache::Archives=$work/archives"
    -o "Dir::State::status=/dev/null"
    -o "APT::Get::List-Cleanup=0"
  )
  echo "fetching $package from $suite ($uri)" >&2
  apt-get "${apt_opts[@]}" -qq update >&2 || return 1
  # Only this download's .deb is left to print (an earlier suite's may differ).
  rm -f "$work/archives/${package}_"*.deb
  (cd "$work/archives" && apt-get "${apt_opts[@]}" -qq download "$package" >&2) || return 1
  ls "$work/archives/${package}_"*.deb | head -1
}
