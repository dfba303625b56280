// The engine switch: pause (running processes stop at their next step boundary) and continue.

import {api, describeError} from "./api.js";
import {confirmDialog, toast} from "./dom.js";

export const ENGINE_LABELS = {
  RUNNING: ["Engine running", "success"],
  PAUSING: ["Engine pausing", "attention"],
  PAUSED: ["Engine paused", "attention"],
};

export async function engineStatus() {
  return (await api("/settings/status")).data;
}

/** Ask, then pause or continue; resolves the new status (or null when cancelled or refused). */
export async function setEngine(pause) {
  const ok = await confirmDialog(
    pause
      ? {
          title: "Pause the engine?",
          body: "Running processes stop at their next step boundary, and nothing can be started or resumed until you continue.",
          confirm: "Pause engine",
          tone: "danger",
        }
      : {title: "Continue the engine?", body: "Paused processes carry on and new ones can start.", confirm: "Continue"},
  );
  if (!ok) return null;
  try {
    const {data} = await api("/settings/status", {method: "PUT", body: {global_lock: pause}});
    toast(pause ? "Engine paused" : "Engine running again");
    window.dispatchEvent(new CustomEvent("orchestrion:engine", {detail: data}));
    return data;
  } catch (error) {
    toast(describeError(error), "danger");
    return null;
  }
}
