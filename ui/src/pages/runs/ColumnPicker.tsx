import { useState } from "preact/hooks";
import { Popover } from "../../components/Popover";

interface Props {
  configKeys: string[];
  summaryKeys: string[];
  chosen: string[];
  onChange: (ids: string[]) => void;
}

/** Choose which config/summary columns the runs table shows (saved per project). */
export function ColumnPicker({ configKeys, summaryKeys, chosen, onChange }: Props) {
  const [open, setOpen] = useState(false);
  const [search, setSearch] = useState("");
  const chosenSet = new Set(chosen);
  const toggle = (id: string) =>
    onChange(chosenSet.has(id) ? chosen.filter((c) => c !== id) : [...chosen, id]);
  const section = (kind: "config" | "summary", keys: string[]) => {
    const shown = keys.filter((k) => k.toLowerCase().includes(search.toLowerCase()));
    return (
      <fieldset class="picker-section">
        <legend>
          {kind === "config" ? "Config" : "Summary"}
          <button
            type="button"
            class="link-btn"
            onClick={() => {
              const ids = shown.map((k) => `${kind}.${k}`);
              const all = ids.every((id) => chosenSet.has(id));
              onChange(all ? chosen.filter((c) => !ids.includes(c)) : [...chosen, ...ids.filter((i) => !chosenSet.has(i))]);
            }}
          >
            toggle all
          </button>
        </legend>
        {shown.length === 0 && <div class="muted small">none</div>}
        {shown.map((k) => {
          const id = `${kind}.${k}`;
          return (
            <label key={id} class="check-row" data-col={id}>
              <input type="checkbox" aria-label={id} checked={chosenSet.has(id)} onChange={() => toggle(id)} />
              <span class="mono">{k}</span>
            </label>
          );
        })}
      </fieldset>
    );
  };
  return (
    <div class="popover-host" data-testid="column-picker">
      <button type="button" class="btn" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
        Columns <span class="muted">({chosen.length})</span>
      </button>
      <Popover open={open} onClose={() => setOpen(false)} align="right" label="Choose columns">
        <input
          class="input"
          type="search"
          placeholder="Find a key"
          aria-label="Find a column"
          value={search}
          onInput={(e) => setSearch(e.currentTarget.value)}
        />
        <div class="picker-lists">
          {section("config", configKeys)}
          {section("summary", summaryKeys)}
        </div>
      </Popover>
    </div>
  );
}
