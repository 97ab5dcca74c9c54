// The client: starts `cnndsl lsp` (over stdio) for .cnn documents. The command comes from
// the `cnndsl.server.command` setting; every feature is the server's (docs/editor.md).
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace
    .getConfiguration("cnndsl")
    .get("server.command", ["cnndsl", "lsp"]);
  const serverOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "cnn" },
      { scheme: "untitled", language: "cnn" },
    ],
  };
  client = new LanguageClient("cnndsl", "cnndsl language server", serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.commands.registerCommand("cnndsl.restartServer", () => client.restart()),
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
