import { render } from "preact";
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { captureToken } from "./api";
import { App } from "./App";

captureToken();
render(<App />, document.getElementById("app")!);
