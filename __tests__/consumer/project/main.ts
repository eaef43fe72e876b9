import { App } from "cdktf";
import { loadConfig, TcpAddonStack } from "tcp-addon/constructs";
import { ShopStack } from "./stack";

const app = new App();
new ShopStack(app, "shop");
new TcpAddonStack(app, "acme", { config: loadConfig("tcp-addon.yaml") }); // a whole config file as a stack
app.synth();
